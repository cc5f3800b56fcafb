"""A labelled set for routing help (派单辅助): 部门职能 entries of every demo department
(hotline/demo.py DEPARTMENTS, the center excepted), past orders to learn from, and orders
whose correct lead department a dispatcher of the demo city would choose.

The texts are written the way callers speak and agents record (地名、时间、口语), not the way
the entries are written, so the ranking has to bridge the two. Territorial orders name a place
inside the demo territories (hotline/demo.py TERRITORIES).
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    article_id: int
    department_code: str
    title: str
    text: str
    territories: tuple[str, ...] = ()


class Order(NamedTuple):
    text: str
    territory_code: str | None
    lead: str


ENTRIES: list[Entry] = [
    Entry(1, "chengguan", "市综合行政执法局主要职责",
          "负责城市管理领域相对集中行政处罚权。查处占道经营、流动摊贩、店外经营、乱摆摊点；"
          "查处城市规划区内违法建设、私搭乱建；管理户外广告、招牌设置；查处乱倒建筑垃圾、"
          "渣土车抛洒滴漏；查处露天烧烤、餐饮油烟扰民；负责市容环境卫生、城市道路清扫保洁、"
          "生活垃圾清运和公共厕所管理。"),
    Entry(2, "zhujian", "市住房和城乡建设局主要职责",
          "负责住宅小区物业管理的监督指导，处理物业服务投诉、物业费纠纷、维修资金使用；"
          "负责房屋建筑和市政工程施工安全、建筑工地夜间施工审批和文明施工；负责商品房"
          "预售、房地产开发企业、开发商延期交房和房屋质量问题；负责城镇燃气、住房保障、"
          "公租房和廉租房；负责城市路灯、市政道路、桥梁等市政设施维护管理。"),
    Entry(3, "jiaotong", "市交通运输局主要职责",
          "负责城市公共交通管理，公交线路、公交站点设置、公交车司机服务和班次；负责出租车、"
          "网约车经营和服务投诉，拒载、绕路、议价；负责道路客运、客运站、长途汽车；负责公路"
          "建设养护，国省干线公路和农村公路坑洼破损修复。"),
    Entry(4, "shichang", "市市场监督管理局主要职责",
          "负责食品安全监督管理，餐馆、超市、食品经营者卫生和过期食品；负责消费者权益保护，"
          "处理消费投诉、退货退款纠纷、预付卡办卡退费；负责价格监督检查，乱收费、价格欺诈、"
          "明码标价；查处假冒伪劣商品、虚假广告；负责电梯等特种设备安全监察；负责市场主体"
          "登记，营业执照办理；负责计量器具、缺斤短两。"),
    Entry(5, "renshe", "市人力资源和社会保障局主要职责",
          "负责劳动保障监察，处理拖欠工资、欠薪、农民工工资、劳动合同纠纷、未缴社保；负责"
          "养老保险、失业保险、工伤保险的参保、缴费、待遇领取和社保卡；负责就业创业服务、"
          "职业技能培训和补贴；负责人事考试、职称评审和劳动人事争议仲裁。"),
    Entry(6, "huanbao", "市生态环境局主要职责",
          "负责大气污染防治，工厂企业废气排放、刺鼻异味；负责水污染防治，企业偷排污水、"
          "河流污染、排污口；负责工业噪声和建筑施工以外的工业企业噪声污染；负责固体废物、"
          "危险废物和辐射安全监管；负责建设项目环境影响评价。"),
    Entry(7, "gongan", "市公安局主要职责",
          "负责户籍管理、户口迁移、身份证办理、居住证；负责社会治安，打架斗殴、偷盗、诈骗"
          "报案；负责社会生活噪声中娱乐场所、KTV、酒吧等噪声扰民的查处；负责道路交通管理，"
          "交通信号灯、违章停车、乱停车、交通拥堵、驾驶证和机动车登记；负责出入境证件办理。"),
    Entry(8, "weijian", "市卫生健康委员会主要职责",
          "负责医疗机构、医院和诊所的监督管理，处理医疗服务投诉、医疗纠纷、看病难、挂号；"
          "负责疫苗接种、疾病预防控制、传染病防治；负责公共场所卫生、生活饮用水卫生监督；"
          "负责计划生育服务、生育登记、出生医学证明；负责老年健康和医养结合。"),
    Entry(9, "jiaoyu", "市教育和体育局主要职责",
          "负责各级各类学校和幼儿园的管理，义务教育入学、学位、划片招生、转学；负责教师队伍"
          "管理，教师有偿补课、师德师风；负责校外培训机构监管和退费；负责学生资助、校车"
          "安全、学校食堂；负责全民健身和公共体育场馆。"),
    Entry(10, "shuiwu", "市水务局主要职责",
          "负责城市供水管理，停水、水压低、自来水水质浑浊、供水管道爆管漏水、水表；负责城市"
          "排水和污水管网，下水道堵塞、污水井冒溢、雨水井、窨井盖；负责河道、堤防管理和"
          "防汛抗旱；负责农村饮水安全。"),
    Entry(11, "minzheng", "市民政局主要职责",
          "负责社会救助，城乡最低生活保障（低保）、特困人员供养、临时救助；负责养老服务，"
          "养老院、养老机构、高龄津贴；负责婚姻登记；负责殡葬管理，公墓、殡仪馆；负责残疾人"
          "两项补贴发放、流浪乞讨人员救助；负责社会组织登记和地名管理。"),
    Entry(12, "ziranziyuan", "市自然资源和规划局主要职责",
          "负责不动产统一登记，房产证、不动产权证书办理、过户；负责城乡规划管理，建设工程"
          "规划许可、规划变更、容积率；负责土地利用和耕地保护，违法占用耕地、违法用地；"
          "负责地质灾害防治，山体滑坡、塌方隐患；负责矿产资源管理。"),
    Entry(13, "gongdian", "国网泸州供电公司服务职责",
          "负责供电营业区内电力供应，停电、突然断电、电压不稳、频繁跳闸；负责电费电价、"
          "电表计量、电费缴纳；负责用电报装、增容、一户一表改造；负责供电线路、电线杆、"
          "变压器、电力设施维护和安全隐患处理。"),
    Entry(14, "jiangyang", "江阳区人民政府主要职责",
          "负责江阳区辖区内经济社会发展和综合治理；负责辖区乡镇和农村工作，农村土地承包、"
          "宅基地、农村道路；负责辖区征地拆迁补偿安置、棚户区改造；统筹辖区街道、乡镇处理"
          "跨部门的综合性问题。", ("510502",)),
    Entry(15, "naxi", "纳溪区人民政府主要职责",
          "负责纳溪区辖区内经济社会发展和综合治理；负责辖区乡镇和农村工作，农村土地承包、"
          "宅基地、农村道路、农业生产；负责辖区征地拆迁补偿安置；统筹辖区街道、乡镇处理"
          "跨部门的综合性问题。", ("510503",)),
    Entry(16, "longmatan", "龙马潭区人民政府主要职责",
          "负责龙马潭区辖区内经济社会发展和综合治理；负责辖区乡镇和农村工作，农村土地承包、"
          "宅基地、农村道路；负责辖区征地拆迁补偿安置、旧城改造；统筹辖区街道、乡镇处理"
          "跨部门的综合性问题。", ("510504",)),
    Entry(17, "luxian", "泸县人民政府主要职责",
          "负责泸县辖区内经济社会发展和综合治理；负责辖区乡镇和农村工作，农村土地承包、"
          "宅基地、农村道路、农业生产、村民；负责辖区征地拆迁补偿安置；统筹辖区乡镇处理"
          "跨部门的综合性问题。", ("510521",)),
    Entry(18, "jy_nancheng", "江阳区南城街道办事处主要职责",
          "负责南城街道辖区社区建设和基层治理，指导社区居委会工作；负责辖区老旧小区、无物业"
          "小区的管理，楼道堆放杂物、小区环境卫生；负责邻里纠纷、家庭矛盾的人民调解；负责"
          "辖区居民服务，开具居住证明、困难群众走访。", ("510502001",)),
    Entry(19, "jy_beicheng", "江阳区北城街道办事处主要职责",
          "负责北城街道辖区社区建设和基层治理，指导社区居委会工作；负责辖区老旧小区、无物业"
          "小区的管理，楼道堆放杂物、小区环境卫生；负责邻里纠纷、家庭矛盾的人民调解；负责"
          "辖区居民服务，开具居住证明、困难群众走访。", ("510502002",)),
    Entry(20, "jy_dashanping", "江阳区大山坪街道办事处主要职责",
          "负责大山坪街道辖区社区建设和基层治理，指导社区居委会工作；负责辖区老旧小区、"
          "无物业小区的管理，楼道堆放杂物、小区环境卫生；负责邻里纠纷的人民调解；负责辖区"
          "居民服务。", ("510502003",)),
    Entry(21, "nx_anfu", "纳溪区安富街道办事处主要职责",
          "负责安富街道辖区社区建设和基层治理，指导社区居委会工作；负责辖区老旧小区、无物业"
          "小区的管理，楼道堆放杂物、小区环境卫生；负责邻里纠纷的人民调解；负责辖区居民"
          "服务。", ("510503001",)),
    Entry(22, "lmt_xiaoshi", "龙马潭区小市街道办事处主要职责",
          "负责小市街道辖区社区建设和基层治理，指导社区居委会工作；负责辖区老旧小区、无物业"
          "小区的管理，楼道堆放杂物、小区环境卫生；负责邻里纠纷、家庭矛盾的人民调解；负责"
          "辖区居民服务，开具居住证明。", ("510504001",)),
    Entry(23, "lmt_hongxing", "龙马潭区红星街道办事处主要职责",
          "负责红星街道辖区社区建设和基层治理，指导社区居委会工作；负责辖区老旧小区、无物业"
          "小区的管理，楼道堆放杂物、小区环境卫生；负责邻里纠纷的人民调解；负责辖区居民"
          "服务。", ("510504002",)),
    Entry(24, "jy_baizhaopai", "南城街道白招牌社区居委会职责",
          "白招牌社区居民自治，组织居民议事，协助街道做好社区网格、孤寡老人关爱和社区活动"
          "室管理。", ("510502001001",)),
]

# Past orders a dispatcher sent (the learned half of routing help is trained on these).
HISTORY: list[Order] = [
    Order("滨江路夜市摊贩占道经营，人行道走不通", "510502001", "chengguan"),
    Order("学校门口有人摆地摊卖零食，堵住上学的路", "510502002", "chengguan"),
    Order("烧烤店把桌子摆到人行道上，油烟很大", "510504001", "chengguan"),
    Order("楼顶有人私搭乱建，加盖了一层彩钢房", "510502003", "chengguan"),
    Order("路边垃圾好几天没人清运，臭气熏天", "510503001", "chengguan"),
    Order("小区物业不作为，电梯坏了不修还涨物业费", "510504002", "zhujian"),
    Order("物业公司乱收停车费，业主不同意", "510502001", "zhujian"),
    Order("工地晚上十二点还在施工，打桩声音很大", "510504001", "zhujian"),
    Order("开发商延期交房一年了，购房合同违约", "510503001", "zhujian"),
    Order("小区门口的路灯坏了一个月不亮", "510502002", "zhujian"),
    Order("12路公交车经常不按时发车，等了四十分钟", "510502001", "jiaotong"),
    Order("出租车司机拒载，还要求不打表议价", "510504001", "jiaotong"),
    Order("网约车司机绕路多收费", "510502003", "jiaotong"),
    Order("超市卖过期牛奶，要求退款", "510502002", "shichang"),
    Order("健身房办了预付卡突然关门跑路，要求退费", "510504002", "shichang"),
    Order("饭店后厨卫生很差，吃完拉肚子", "510502001", "shichang"),
    Order("菜市场商贩缺斤短两，秤有问题", "510503001", "shichang"),
    Order("公司拖欠三个月工资不发", "510502001", "renshe"),
    Order("工地老板欠农民工工资，年底了还不给", "510521001", "renshe"),
    Order("养老保险怎么补缴，社保卡在哪里办", "510504001", "renshe"),
    Order("化工厂晚上偷排废气，刺鼻味道很大", "510504002", "huanbao"),
    Order("有企业往河里排污水，水都黑了", "510503001", "huanbao"),
    Order("楼下KTV每天唱到凌晨两点，吵得没法睡", "510502001", "gongan"),
    Order("小区门口有车乱停车，堵住消防通道", "510502002", "gongan"),
    Order("路口红绿灯坏了，交通很乱", "510504001", "gongan"),
    Order("身份证丢了怎么补办，户口在外地", None, "gongan"),
    Order("医院挂号排队太久，医生态度差", "510502001", "weijian"),
    Order("孩子打疫苗要预约，社区医院约不上", "510504002", "weijian"),
    Order("孩子上小学划片不合理，学位不够", "510502002", "jiaoyu"),
    Order("校外培训机构不给退学费", "510502001", "jiaoyu"),
    Order("家里停水两天了，没有任何通知", "510502003", "shuiwu"),
    Order("自来水发黄有沉淀，不敢喝", "510504001", "shuiwu"),
    Order("小区下水道堵了，污水冒到路面上", "510503001", "shuiwu"),
    Order("老人想申请低保，需要什么材料", "510502002", "minzheng"),
    Order("养老院护工虐待老人", "510504002", "minzheng"),
    Order("买的二手房办不了房产证过户", "510502001", "ziranziyuan"),
    Order("村里有人违法占用耕地建厂房", "510521001", "ziranziyuan"),
    Order("家里经常突然停电，冰箱都坏了", "510504001", "gongdian"),
    Order("电费突然比上月多了一倍，怀疑电表有问题", "510502002", "gongdian"),
    Order("征地拆迁补偿款迟迟没有发放", "510521001", "luxian"),
    Order("老旧小区楼道里堆满杂物，没人管", "510502001", "jy_nancheng"),
    Order("邻居装修占用公共楼道，调解不了", "510504001", "lmt_xiaoshi"),
]

# The orders whose lead is measured (none is in HISTORY).
ORDERS: list[Order] = [
    Order("南城街道白塔路有流动摊贩占用人行道卖水果，行人只能走机动车道", "510502001", "chengguan"),
    Order("我家楼下的烧烤摊每天晚上油烟很大，窗户都不敢开", "510502002", "chengguan"),
    Order("小区里有业主在绿化带上私搭乱建违章建筑，希望查处", "510504002", "chengguan"),
    Order("渣土车一路抛洒，道路上全是泥土", "510503001", "chengguan"),
    Order("街边店铺的招牌广告牌摇摇欲坠，怕掉下来砸到人", "510502003", "chengguan"),
    Order("公共厕所很脏没人打扫，臭气熏天", "510504001", "chengguan"),
    Order("物业公司把小区公共收益挪作他用，业主要求公开账目", "510502001", "zhujian"),
    Order("隔壁建筑工地夜间施工，晚上十一点还在浇混凝土", "510504002", "zhujian"),
    Order("新买的商品房墙面开裂漏水，开发商不处理", "510503001", "zhujian"),
    Order("燃气管道有漏气的味道，燃气公司不来检修", "510502002", "zhujian"),
    Order("珠子街路灯一整排都不亮，晚上走路很危险", "510502001", "zhujian"),
    Order("公交站牌被拆了，附近居民不知道在哪等车", "510504001", "jiaotong"),
    Order("国道上坑坑洼洼，车辆经过很颠簸，多次发生事故", "510521001", "jiaotong"),
    Order("客运站到泸县的长途汽车班次太少", "510521001", "jiaotong"),
    Order("网约车平台司机中途甩客，投诉无门", "510502002", "jiaotong"),
    Order("在商场买的衣服质量有问题，商家拒绝退货", "510504001", "shichang"),
    Order("药店价格没有明码标价，同样的药比别家贵很多", "510502003", "shichang"),
    Order("小区电梯经常困人，维保单位敷衍了事", "510502001", "shichang"),
    Order("想办理个体工商户营业执照，需要哪些材料", None, "shichang"),
    Order("网上说的保健品虚假宣传，老人被骗买了很多", "510503001", "shichang"),
    Order("在餐馆吃饭发现菜里有虫子，食品安全有问题", "510504002", "shichang"),
    Order("单位不和我签劳动合同，也不交社保", "510502002", "renshe"),
    Order("辞职后失业保险金怎么领取", None, "renshe"),
    Order("包工头拖欠工人工资半年，讨薪无果", "510503001", "renshe"),
    Order("想参加电工职业技能培训，有没有补贴", "510504001", "renshe"),
    Order("附近工厂排放黑烟，空气中有刺鼻的异味", "510521001", "huanbao"),
    Order("河边有排污口往长江里排放污水，水面有油污", "510502001", "huanbao"),
    Order("酒吧音乐声太大，每天半夜还在吵", "510504001", "gongan"),
    Order("孩子上户口需要什么手续", "510502003", "gongan"),
    Order("有人在小区里偷电瓶车，报警后没有下文", "510502002", "gongan"),
    Order("学校门口早晚高峰违章停车严重，交通拥堵", "510504002", "gongan"),
    Order("诊所无证行医，给人打针出了问题", "510503001", "weijian"),
    Order("医院收费不透明，对医疗费用有疑问要投诉", "510502001", "weijian"),
    Order("孩子出生医学证明丢了怎么补办", None, "weijian"),
    Order("老师在家里办补习班有偿补课", "510502001", "jiaoyu"),
    Order("幼儿园乱收费，学校食堂饭菜质量差", "510504001", "jiaoyu"),
    Order("想转学到江阳区的小学，学校不接收", "510502002", "jiaoyu"),
    Order("水压太低，住六楼以上的住户一直没水用", "510502002", "shuiwu"),
    Order("路上的窨井盖缺失，有人差点掉下去", "510504002", "shuiwu"),
    Order("供水管道爆管，路面一直在冒水", "510503001", "shuiwu"),
    Order("下雨天小区门口雨水井堵塞积水严重", "510502003", "shuiwu"),
    Order("父亲去世后想申请公墓，殡葬费用怎么报", "510504001", "minzheng"),
    Order("残疾人两项补贴一直没有发放", "510521001", "minzheng"),
    Order("想办理结婚登记，需要带什么", None, "minzheng"),
    Order("后山有山体滑坡的隐患，下雨天很危险", "510503001", "ziranziyuan"),
    Order("不动产权证书办了半年还没下来", "510502001", "ziranziyuan"),
    Order("小区旁边的电线杆倾斜，电线垂到地面", "510504002", "gongdian"),
    Order("申请一户一表改造，供电所一直拖着", "510502003", "gongdian"),
    Order("家里电压不稳，电器频繁跳闸", "510503001", "gongdian"),
    Order("村里的宅基地纠纷，村委会处理不公", "510521001", "luxian"),
    Order("棚户区改造拆迁安置房迟迟不交付", "510502002", "jiangyang"),
    Order("纳溪区农村道路年久失修，村民出行困难", "510503002", "naxi"),
    Order("邻居家在楼道堆放杂物，还和我们吵架，希望社区调解邻里纠纷", "510504001",
          "lmt_xiaoshi"),
    Order("无物业的老旧小区环境卫生太差，楼道杂物没人清理", "510502002", "jy_beicheng"),
    Order("老旧小区没有物业，楼道堆放杂物堵塞通道", "510503001", "nx_anfu"),
]


# -- entering the entries through knowledge's RPC (tests of the service and the broker) -------

ADMIN = {"name": "admin", "role": "admin", "department_code": None}  # knowledge's actor


def entry_payload(e: Entry, publish: bool = True) -> dict[str, object]:
    """``create_article``'s payload for an entry; its territories where the schema takes them."""
    from services.knowledge.schemas import ArticleInSchema

    payload: dict[str, object] = {"article_type": "responsibility", "title": e.title,
                                  "body": e.text, "department_code": e.department_code,
                                  "publish": publish}
    if "territories" in ArticleInSchema().fields:
        payload["territories"] = list(e.territories)
    return payload


def publish(knowledge: object, article_id: int) -> None:
    """Publish an entry through whichever publishing call the knowledge service has."""
    from services.knowledge.service import KnowledgeService

    if hasattr(KnowledgeService, "publish_article"):
        knowledge.publish_article(article_id, None, ADMIN)  # type: ignore[attr-defined]
    else:
        knowledge.publish(article_id, ADMIN)  # type: ignore[attr-defined]
