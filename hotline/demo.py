"""Demo data: a realistic city (泸州市, the city of seed 004) with its districts, streets,
communities, departments, a routing catalogue (派单目录), knowledge entries and demo users.

Loaded through the services' own RPC entrypoints, so it goes through the same validation
as anything an administrator enters.
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo12345"
# knowledge's actor for the demo's entries: the center (an administrator), which publishes
DEMO_ACTOR = {"name": "demo", "role": "admin", "department_code": None}

TERRITORIES: list[dict[str, Any]] = [
    {"code": "510500", "name": "泸州市", "level": "city"},
    {"code": "510502", "name": "江阳区", "level": "district", "parent_code": "510500"},
    {"code": "510503", "name": "纳溪区", "level": "district", "parent_code": "510500"},
    {"code": "510504", "name": "龙马潭区", "level": "district", "parent_code": "510500"},
    {"code": "510521", "name": "泸县", "level": "district", "parent_code": "510500"},
    {"code": "510502001", "name": "南城街道", "level": "street", "parent_code": "510502"},
    {"code": "510502002", "name": "北城街道", "level": "street", "parent_code": "510502"},
    {"code": "510502003", "name": "大山坪街道", "level": "street", "parent_code": "510502"},
    {"code": "510503001", "name": "安富街道", "level": "street", "parent_code": "510503"},
    {"code": "510503002", "name": "永宁街道", "level": "street", "parent_code": "510503"},
    {"code": "510504001", "name": "小市街道", "level": "street", "parent_code": "510504"},
    {"code": "510504002", "name": "红星街道", "level": "street", "parent_code": "510504"},
    {"code": "510521001", "name": "玉蟾街道", "level": "street", "parent_code": "510521"},
    {"code": "510502001001", "name": "白招牌社区", "level": "community", "parent_code": "510502001"},
    {"code": "510502001002", "name": "水井沟社区", "level": "community", "parent_code": "510502001"},
    {"code": "510504001001", "name": "沱江社区", "level": "community", "parent_code": "510504001"},
]

DEPARTMENTS: list[dict[str, Any]] = [
    {"code": "center", "name": "泸州市12345政务服务便民热线中心", "kind": "center"},
    {"code": "chengguan", "name": "市综合行政执法局（城管）", "kind": "bureau"},
    {"code": "zhujian", "name": "市住房和城乡建设局", "kind": "bureau"},
    {"code": "jiaotong", "name": "市交通运输局", "kind": "bureau"},
    {"code": "shichang", "name": "市市场监督管理局", "kind": "bureau"},
    {"code": "renshe", "name": "市人力资源和社会保障局", "kind": "bureau"},
    {"code": "huanbao", "name": "市生态环境局", "kind": "bureau"},
    {"code": "gongan", "name": "市公安局", "kind": "bureau"},
    {"code": "weijian", "name": "市卫生健康委员会", "kind": "bureau"},
    {"code": "jiaoyu", "name": "市教育和体育局", "kind": "bureau"},
    {"code": "shuiwu", "name": "市水务局", "kind": "bureau"},
    {"code": "minzheng", "name": "市民政局", "kind": "bureau"},
    {"code": "ziranziyuan", "name": "市自然资源和规划局", "kind": "bureau"},
    {"code": "gongdian", "name": "国网泸州供电公司", "kind": "bureau"},
    {"code": "jiangyang", "name": "江阳区人民政府", "kind": "district", "territory_code": "510502"},
    {"code": "naxi", "name": "纳溪区人民政府", "kind": "district", "territory_code": "510503"},
    {"code": "longmatan", "name": "龙马潭区人民政府", "kind": "district", "territory_code": "510504"},
    {"code": "luxian", "name": "泸县人民政府", "kind": "district", "territory_code": "510521"},
    {"code": "jy_nancheng", "name": "江阳区南城街道办事处", "kind": "street",
     "parent_code": "jiangyang", "territory_code": "510502001"},
    {"code": "jy_beicheng", "name": "江阳区北城街道办事处", "kind": "street",
     "parent_code": "jiangyang", "territory_code": "510502002"},
    {"code": "jy_dashanping", "name": "江阳区大山坪街道办事处", "kind": "street",
     "parent_code": "jiangyang", "territory_code": "510502003"},
    {"code": "nx_anfu", "name": "纳溪区安富街道办事处", "kind": "street",
     "parent_code": "naxi", "territory_code": "510503001"},
    {"code": "lmt_xiaoshi", "name": "龙马潭区小市街道办事处", "kind": "street",
     "parent_code": "longmatan", "territory_code": "510504001"},
    {"code": "lmt_hongxing", "name": "龙马潭区红星街道办事处", "kind": "street",
     "parent_code": "longmatan", "territory_code": "510504002"},
    {"code": "jy_baizhaopai", "name": "南城街道白招牌社区居委会", "kind": "community",
     "parent_code": "jy_nancheng", "territory_code": "510502001001"},
]

RULES: list[dict[str, Any]] = [
    {"keywords": ["占道经营", "乱摆摊", "流动摊贩", "违章建筑", "违建", "乱堆乱放"],
     "lead": "chengguan", "assists": ["@street"], "note": "市容秩序"},
    {"keywords": ["夜间施工", "施工扰民", "工地噪音"], "lead": "chengguan", "note": "施工噪声"},
    {"keywords": ["噪音", "噪声", "油烟", "排污", "异味", "污染"], "lead": "huanbao",
     "note": "环境污染"},
    {"keywords": ["物业", "维修基金", "电梯", "房屋漏水", "小区"], "lead": "zhujian",
     "assists": ["@district"], "note": "物业与房屋"},
    {"keywords": ["公交", "出租车", "网约车", "客运"], "lead": "jiaotong", "note": "交通运输"},
    {"keywords": ["食品", "价格", "消费", "假冒", "缺斤少两", "预付卡"], "lead": "shichang",
     "note": "市场监管"},
    {"keywords": ["社保", "养老保险", "工资", "欠薪", "拖欠", "劳动合同"], "lead": "renshe",
     "note": "人社"},
    {"keywords": ["停水", "水压", "自来水", "管网"], "lead": "shuiwu", "note": "供水"},
    {"keywords": ["停电", "电压", "供电"], "lead": "gongdian", "note": "供电"},
    {"keywords": ["学校", "入学", "幼儿园", "学位"], "lead": "jiaoyu", "note": "教育"},
    {"keywords": ["医院", "医疗", "疫苗", "门诊"], "lead": "weijian", "note": "卫生健康"},
    {"keywords": ["低保", "养老院", "残疾", "救助"], "lead": "minzheng", "note": "民政"},
    {"keywords": ["盗窃", "诈骗", "治安"], "lead": "gongan", "note": "治安"},
    {"keywords": ["占道经营", "违章建筑"], "territory_code": "510504", "lead": "longmatan",
     "assists": ["chengguan"], "note": "龙马潭区市容属地管理"},
    {"category": "complaint", "lead": "@district", "priority": -10, "note": "投诉按属地派单"},
    {"category": "help", "lead": "@street", "priority": -10, "note": "求助按属地派单到街道"},
]

# -- Step 4 knowledge: the demo's knowledge base (资料库) ----------------------------------------
# Every demo department's 部门职能 (responsibility) entry — the basis of routing help; district and
# street governments carry their territory, so routing help can match an order's territory — plus
# 办事指南 with every guide field and 常见问答 for 泸州. ``key`` makes loading idempotent
# (the entry's source is ``demo:<key>``). The five seed documents are imported beside them.
_DUTIES: dict[str, str] = {
    "center": "受理群众通过12345热线电话、网站、微信、APP等渠道提出的咨询、求助、投诉、举报和建议；"
              "能当场答复的直接办结，不能当场答复的按派单目录和部门职能转交承办单位办理；对承办"
              "单位的办理情况进行督办、催办，开展回访和满意度测评；维护热线资料库，汇总分析社情民意，"
              "按月通报各承办单位办理情况和考核结果。",
    "chengguan": "负责城市管理领域相对集中行政处罚权的执法工作：市容环境卫生、占道经营和流动摊贩、"
                 "店外经营、乱堆乱放、违章建筑（城市规划区内的违法建设）查处、户外广告和招牌设置、"
                 "渣土运输和建筑垃圾处置、夜间施工噪声（城市建成区建筑施工）、餐饮油烟露天烧烤、"
                 "生活垃圾分类投放和清运、公共厕所管理、城市绿化和市政设施损坏的执法。",
    "zhujian": "负责住房和城乡建设管理：住宅小区物业服务监督管理、住宅专项维修资金归集使用、"
               "业主委员会指导、老旧小区改造、房屋漏水等质量问题的督促处理、商品房预售和交付、"
               "房屋租赁备案、建筑工地施工许可和安全文明施工监管、城镇燃气行业管理、"
               "既有住宅增设电梯和小区电梯维保的物业责任督促。",
    "jiaotong": "负责交通运输管理：城市公交线路、站点和班次，出租车和网约车经营服务、拒载绕路"
                "议价投诉，道路客运和货运、客运站管理，农村公路建设养护，交通运输综合执法，"
                "公交卡（泸州通）办理和乘车优惠政策。",
    "shichang": "负责市场监督管理：市场主体登记注册、食品安全（餐饮、食品生产经营）、"
                "价格监督检查和价格违法投诉、消费者权益保护（12315）和消费纠纷调解、预付卡消费、"
                "假冒伪劣和缺斤少两、广告监管、特种设备（电梯、锅炉、压力容器）安全监察、"
                "药品零售和医疗器械经营监管、计量和标准化。",
    "renshe": "负责人力资源和社会保障：城镇职工和城乡居民养老保险、工伤保险、失业保险的参保和"
              "待遇，社会保障卡办理，劳动合同和劳动关系、拖欠农民工工资（欠薪）投诉和劳动保障"
              "监察，劳动人事争议仲裁，就业创业服务和职业技能培训补贴，人才引进和职称评审。",
    "huanbao": "负责生态环境保护：大气污染、水污染、工业企业排污和异味、工业噪声和社会生活噪声中"
               "的商业经营噪声污染、餐饮油烟在线监测（与城管分工）、固体废物和危险废物、"
               "辐射安全、建设项目环境影响评价、生态环境违法行为举报受理和查处。",
    "gongan": "负责公共安全和治安管理：治安案件、盗窃和电信网络诈骗的报案受理、户籍登记和迁移、"
              "新生儿入户、居民身份证和居住证办理、出入境证件、机动车和驾驶人管理、道路交通"
              "违法和交通事故处理（交警）、养犬登记和管理、社会生活噪声中的公共场所喧哗扰民。",
    "weijian": "负责卫生健康管理：医疗机构和医务人员执业行为、医疗服务质量投诉和医疗纠纷调解引导、"
               "预防接种（疫苗）、传染病防控、院前急救（120）、妇幼保健和母婴设施、"
               "出生医学证明、无偿献血、职业病防治、公共场所卫生监督。",
    "jiaoyu": "负责教育和体育：中小学和幼儿园的招生入学、学位和划片、学籍转学、义务教育阶段"
              "收费和违规补课、校外培训机构监管、校园安全和校车、教师师德师风、学生资助、"
              "公共体育设施和全民健身。",
    "shuiwu": "负责水务管理：城市供水和二次供水、计划停水和突发停水的抢修与通知、水压不足、"
              "供水管网和水表、城市排水和污水管网、下水道堵塞和窨井盖缺失、防汛抗旱、"
              "河道管理和采砂、节约用水。",
    "minzheng": "负责民政事务：城乡居民最低生活保障（低保）、特困人员供养、临时救助、"
                "养老院和养老服务补贴、残疾人两项补贴、婚姻登记、殡葬管理、"
                "社区治理和社会组织登记、流浪乞讨人员救助、地名管理。",
    "ziranziyuan": "负责自然资源和规划：国土空间规划、建设用地和建设工程规划许可、"
                   "不动产登记（房产证、土地证办理）、违法占地和非法采矿查处、"
                   "耕地保护、地质灾害防治、测绘地理信息、林地和林木管理。",
    "gongdian": "国网泸州供电公司负责泸州市供电服务：停电（计划停电公告和故障抢修）、电压不稳、"
                "电费电价和缴费、居民和企业用电报装、电表、电力线路和变压器等电力设施安全、"
                "充电桩报装。供电服务热线95598。",
}
_AREAS: dict[str, tuple[str, str]] = {
    # code → (territory description, the local duties)
    "jiangyang": ("江阳区行政区域（南城、北城、大山坪等街道）",
                  "辖区内的属地管理事项：市容环境、占道经营和违法建设的属地巡查、"
                  "住宅小区物业纠纷的属地调处、辖区投诉按属地原则的统筹办理"),
    "naxi": ("纳溪区行政区域（安富、永宁等街道和各乡镇）",
             "辖区内的属地管理事项：乡镇和街道的环境卫生、农村道路、农业农村、"
             "辖区投诉按属地原则的统筹办理"),
    "longmatan": ("龙马潭区行政区域（小市、红星等街道）",
                  "辖区内的属地管理事项：占道经营和违章建筑的属地管理（区综合执法）、"
                  "物业小区、辖区投诉按属地原则的统筹办理"),
    "luxian": ("泸县行政区域（玉蟾街道和各镇）",
               "县域内的属地管理事项：城乡环境、农村道路、乡村振兴、辖区投诉按属地原则的统筹办理"),
    "jy_nancheng": ("江阳区南城街道辖区（含白招牌社区、水井沟社区）",
                    "网格化管理、社区环境卫生和市容巡查、流动摊贩劝导、邻里纠纷调解、"
                    "低保和临时救助的初审、居民求助的上门服务"),
    "jy_beicheng": ("江阳区北城街道辖区", "网格化管理、社区环境卫生、邻里纠纷调解、"
                    "老旧小区改造的组织协调、居民求助的上门服务"),
    "jy_dashanping": ("江阳区大山坪街道辖区", "网格化管理、环境卫生、物业小区协调、"
                      "邻里纠纷调解、居民求助的上门服务"),
    "nx_anfu": ("纳溪区安富街道辖区", "网格化管理、环境卫生、邻里纠纷调解、居民求助的上门服务"),
    "lmt_xiaoshi": ("龙马潭区小市街道辖区（含沱江社区）", "网格化管理、沿江环境卫生、"
                    "占道经营劝导、邻里纠纷调解、居民求助的上门服务"),
    "lmt_hongxing": ("龙马潭区红星街道辖区", "网格化管理、环境卫生、邻里纠纷调解、"
                     "居民求助的上门服务"),
    "jy_baizhaopai": ("南城街道白招牌社区", "居民自治、楼栋长和网格员入户走访、"
                      "社区环境和楼道堆物清理、孤寡老人关爱、居民矛盾的第一时间调解"),
}


def responsibility_entries(departments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One 部门职能 entry per department: the bureaus' duties above; a district or street
    government's duties in its territory (``territories``: its code)."""
    out = []
    for d in departments:
        code = d["code"]
        if code in _AREAS:
            where, duties = _AREAS[code]
            body = (f"{d['name']}负责{where}的属地管理工作。主要职责：{duties}。"
                    "按照“属地管理、分级负责”的原则，承办12345热线转办的本辖区诉求，"
                    "并协调相关职能部门共同处理。")
        else:
            body = _DUTIES[code]
        out.append({"key": f"duty:{code}", "article_type": "responsibility",
                    "title": f"{d['name']}主要职责", "body": body, "department_code": code,
                    "territories": [d["territory_code"]] if d.get("territory_code") else [],
                    "publish": True})
    return out


GUIDES: list[dict[str, Any]] = [
    {"key": "guide:pension", "article_type": "guide", "department_code": "renshe",
     "title": "城乡居民基本养老保险参保登记",
     "body": "年满16周岁（不含在校学生）、非国家机关和事业单位工作人员、不属于职工基本养老保险"
             "覆盖范围的泸州市户籍居民，可在户籍地参加城乡居民基本养老保险。",
     "fields": {"project_name": "城乡居民基本养老保险参保登记",
                "basis": "《中华人民共和国社会保险法》；《国务院关于建立统一的城乡居民基本养老"
                         "保险制度的意见》（国发〔2014〕8号）",
                "materials": "居民身份证或户口簿原件；社会保障卡（已办理的）",
                "procedure": "1.到户籍所在地社区（村）或街道（乡镇）社保服务窗口申请，也可通过"
                             "“四川e社保”APP办理；2.窗口受理并录入参保信息；3.选择缴费档次，"
                             "通过银行或税务渠道缴费。",
                "time_limit": "即办", "fee_basis": "无", "fee_standard": "不收费",
                "window_authority": "街道（乡镇）社保服务窗口受理办结"},
     "publish": True},
    {"key": "guide:residence-permit", "article_type": "guide", "department_code": "gongan",
     "title": "居住证申领",
     "body": "离开常住户口所在地，到泸州市居住半年以上，符合有合法稳定就业、合法稳定住所、"
             "连续就读条件之一的公民，可以申领居住证。",
     "fields": {"project_name": "居住证申领", "basis": "《居住证暂行条例》（国务院令第663号）",
                "materials": "居民身份证；近期一寸白底证件照片；居住地住址证明（房产证明、"
                             "租赁合同或单位住宿证明）；就业、就读证明之一",
                "procedure": "1.到居住地派出所或社区警务室先办理居住登记；2.居住满半年后携带"
                             "材料申领；3.派出所审核受理；4.领取居住证（可邮寄）。",
                "time_limit": "15个工作日", "fee_basis": "《居住证暂行条例》第十四条",
                "fee_standard": "首次申领免费；换领、补领每证10元",
                "window_authority": "居住地公安派出所受理，县级公安机关签发"},
     "publish": True},
    {"key": "guide:dibao", "article_type": "guide", "department_code": "minzheng",
     "title": "城乡居民最低生活保障申请",
     "body": "共同生活的家庭成员人均收入低于泸州市最低生活保障标准，且家庭财产状况符合规定的，"
             "可以申请最低生活保障（低保）。",
     "fields": {"project_name": "最低生活保障审核确认",
                "basis": "《社会救助暂行办法》（国务院令第649号）；《四川省最低生活保障"
                         "审核确认办法》",
                "materials": "申请书；家庭成员身份证和户口簿；家庭收入和财产情况声明；"
                             "授权核对家庭经济状况的书面材料；残疾、患病等特殊情况证明",
                "procedure": "1.向户籍所在地街道办事处（乡镇人民政府）提出申请，社区可代为提交；"
                             "2.入户调查和经济状况核对；3.民主评议和公示；4.县级民政部门审核确认；"
                             "5.按月发放低保金。",
                "time_limit": "30个工作日（特殊情况可延长至45个工作日）",
                "fee_basis": "无", "fee_standard": "不收费",
                "window_authority": "街道（乡镇）受理，区县民政局审核确认"},
     "publish": True},
    {"key": "guide:road-occupation", "article_type": "guide", "department_code": "chengguan",
     "title": "临时占用城市道路审批",
     "body": "因建设施工、举办活动等需要临时占用城市道路、人行道设置堆放点或摊点的，"
             "应事先办理临时占用城市道路审批。未经批准占道经营的，由城管部门依法查处。",
     "fields": {"project_name": "临时占用城市道路审批",
                "basis": "《城市道路管理条例》第三十一条；《泸州市城市管理条例》",
                "materials": "申请表；占道位置平面图和占用面积、期限说明；营业执照或身份证；"
                             "涉及交通的，公安交警部门意见",
                "procedure": "1.向市或区政务服务中心城管窗口提交申请；2.现场踏勘；3.审查决定；"
                             "4.领取许可决定书，按批准的位置、面积、期限占用并设置警示标志。",
                "time_limit": "5个工作日",
                "fee_basis": "《城市道路管理条例》第三十七条；四川省城市道路占用费标准",
                "fee_standard": "按占用面积和期限收取城市道路占用费（公益性活动免收）",
                "window_authority": "政务服务中心城管窗口受理并办结"},
     "publish": True},
    {"key": "guide:water-connection", "article_type": "guide", "department_code": "shuiwu",
     "title": "居民用水报装",
     "body": "新建住宅、自建房或需要增设水表的用户，可申请用水报装（供水接入）。",
     "fields": {"project_name": "用水报装（供水接入）",
                "basis": "《城市供水条例》；《泸州市城市供水管理办法》",
                "materials": "用水报装申请表；身份证或营业执照；房屋产权证明或购房合同；"
                             "用水地址平面图（非居民用户）",
                "procedure": "1.线上（“泸州水务”公众号）或政务服务中心供水窗口申请；2.现场勘查"
                             "和方案答复；3.签订供用水合同；4.施工接水、装表通水。",
                "time_limit": "居民用户5个工作日；无外线工程的非居民用户10个工作日",
                "fee_basis": "《四川省定价目录》；泸州市发展改革委供水价格文件",
                "fee_standard": "居民一户一表报装不收取接水费；用水按阶梯水价计费",
                "window_authority": "政务服务中心供水窗口受理，供水企业办结"},
     "publish": True},
    {"key": "guide:business-registration", "article_type": "guide", "department_code": "shichang",
     "title": "个体工商户设立登记",
     "body": "有经营能力的公民从事工商业经营，可以申请登记为个体工商户，领取营业执照后开业。",
     "fields": {"project_name": "个体工商户设立登记",
                "basis": "《促进个体工商户发展条例》；《中华人民共和国市场主体登记管理条例》",
                "materials": "经营者身份证；经营场所使用证明（租赁合同或产权证明）；"
                             "委托他人办理的，委托书和受托人身份证",
                "procedure": "1.通过“四川政务服务网”或政务服务中心市场监管窗口申请；"
                             "2.核名和材料审查；3.核准登记；4.领取营业执照（可邮寄或电子执照）。",
                "time_limit": "材料齐全的，即办（1个工作日内）",
                "fee_basis": "无", "fee_standard": "不收费",
                "window_authority": "政务服务中心市场监管窗口受理并办结"},
     "publish": True},
]

FAQS: list[dict[str, Any]] = [
    {"key": "faq:water-outage", "article_type": "faq", "department_code": "shuiwu",
     "title": "停水了怎么查询恢复供水时间",
     "body": "计划停水信息由市水务局在官网和“泸州水务”微信公众号提前发布；突发停水可拨打供水"
             "抢修电话，或由12345转办市水务局处理。抢修一般4小时内恢复供水，大口径管网爆管"
             "可能延长，期间可申请送水车。", "publish": True},
    {"key": "faq:wage-arrears", "article_type": "faq", "department_code": "renshe",
     "title": "被拖欠工资怎么投诉",
     "body": "可向用工所在地的区县人力资源和社会保障局劳动保障监察机构投诉，或拨打12345由热线"
             "转办。投诉时提供身份证、劳动合同或工资条、考勤记录等用工证明和欠薪金额。"
             "劳动保障监察机构一般在受理之日起60个工作日内处理完毕；涉及劳动争议的，"
             "可申请劳动人事争议仲裁。", "publish": True},
    {"key": "faq:construction-noise", "article_type": "faq", "department_code": "chengguan",
     "title": "夜间施工噪音扰民怎么办",
     "body": "城市建成区内22时至次日6时禁止产生噪声污染的建筑施工作业，抢修抢险或因生产工艺"
             "要求必须连续施工的，应取得夜间施工证明并公告附近居民。居民可拨打12345反映，"
             "由市综合行政执法局（城管）现场核查，未取得证明的依法查处。", "publish": True},
    {"key": "faq:lift-failure", "article_type": "faq", "department_code": "zhujian",
     "title": "小区电梯经常故障找谁",
     "body": "电梯日常维护保养由物业服务企业委托的维保单位负责，业主可先向物业报修；物业不履行"
             "职责的，向小区所在地街道或市住房和城乡建设局反映；电梯存在安全隐患或发生困人，"
             "拨打电梯内应急电话或96333，由市场监督管理局负责特种设备安全监察。",
     "publish": True},
    {"key": "faq:newborn-hukou", "article_type": "faq", "department_code": "gongan",
     "title": "新生儿怎么办理入户",
     "body": "新生儿出生后一个月内，由父母一方持出生医学证明、父母双方身份证和户口簿、"
             "结婚证到户籍所在地派出所办理出生登记，也可通过“川户通”小程序网上办理。"
             "超过一个月的，需补充说明。办理不收费。", "publish": True},
    {"key": "faq:power-outage", "article_type": "faq", "department_code": "gongdian",
     "title": "突然停电了怎么报修",
     "body": "先确认是否为家中空气开关跳闸或欠费停电；小区或片区停电可拨打95598或通过"
             "“网上国网”APP报修，计划停电信息在供电公司公众号提前公告。故障抢修城区一般"
             "45分钟内到达现场。", "publish": True},
]


def knowledge_entries() -> list[dict[str, Any]]:
    """Every hand-written demo entry: responsibilities of all departments, guides, FAQs."""
    return responsibility_entries(DEPARTMENTS) + GUIDES + FAQS


def seed_dir(start: Path | None = None) -> Path | None:
    """The folder of the five seed documents: ``$HOTLINE_SEEDS``, else ``shared/seeds`` beside
    the repository (``../shared/seeds``) or beside a folder holding it (a git worktree under
    ``wt/``); None when there is none (a container image has only the repository)."""
    if os.environ.get("HOTLINE_SEEDS"):
        path = Path(os.environ["HOTLINE_SEEDS"])
        return path if path.is_dir() else None
    root = (start or Path(__file__).resolve().parent.parent)
    for parent in root.parents:
        candidate = parent / "shared" / "seeds"
        if candidate.is_dir() and any(candidate.glob("*.txt")):
            return candidate
    return None


def users(departments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    people = [
        {"username": "agent1", "display_name": "话务员 王芳", "role": "agent"},
        {"username": "agent2", "display_name": "话务员 李娜", "role": "agent"},
        {"username": "dispatcher1", "display_name": "派单员 张伟", "role": "dispatcher"},
        {"username": "supervisor1", "display_name": "督办 刘洋", "role": "supervisor"},
        {"username": "leader1", "display_name": "领导 陈刚", "role": "leader"},
        {"username": "admin", "display_name": "管理员", "role": "admin"},
        {"username": "auditor1", "display_name": "审计 赵敏", "role": "auditor"},
    ]
    for d in departments:
        if d["kind"] != "center":
            people.append({"username": f"dept_{d['code']}", "display_name": d["name"],
                           "role": "department", "department_code": d["code"]})
    for p in people:
        p["password"] = DEMO_PASSWORD
    return people


def load(rpc: Any) -> dict[str, Any]:
    """Load everything through a cluster RPC proxy (``rpc.dispatch.load_reference(...)``)."""
    counts = rpc.dispatch.load_reference({"territories": TERRITORIES,
                                          "departments": DEPARTMENTS, "rules": []})
    existing_rules = rpc.dispatch.rule_count()
    if existing_rules == 0:
        counts["rules"] = rpc.dispatch.load_reference({"rules": RULES})["rules"]
    counts["users"] = rpc.gateway.load_users(users(DEPARTMENTS))
    counts.update(load_knowledge(rpc))
    return counts


def load_knowledge(rpc: Any, seeds: Path | None = None) -> dict[str, int]:
    """The knowledge base: the hand-written entries, then the seed documents imported and
    published. Idempotent: an entry already there (its ``demo:<key>`` source, or a Step-1 entry
    of the same type and title) and a seed file imported before are skipped."""
    loaded = rpc.knowledge.load_entries(knowledge_entries(), DEMO_ACTOR)
    counts = {"articles": loaded["created"]}
    seeds = seeds or seed_dir()
    if seeds is None:
        log.warning("未找到种子文档目录 ../shared/seeds: the seed documents are not imported "
                    "(set HOTLINE_SEEDS to import them)")
        return counts
    files = [{"filename": p.name, "content_base64": base64.b64encode(p.read_bytes()).decode()}
             for p in sorted(seeds.glob("*.txt"))]
    report = rpc.knowledge.import_documents(
        files, {"publish": True, "skip_existing": True}, DEMO_ACTOR)
    for f in report["files"]:
        if f["status"] == "error":
            log.warning("seed document not imported", extra={"file": f["filename"],
                                                             "error": f["error"]})
    counts["imported"] = report["imported"]
    return counts


# -- a department with its own system (部门自有系统), for ``hotline up --demo`` -------------------
OWN_SYSTEM_DEPARTMENT = "shuiwu"  # 市水务局: its own case system receives pushed orders
OWN_SYSTEM_KEY_NAME = "演示部门系统 dept-sim"


def attach_own_system(admin: Any, webhook_url: str,
                      department_code: str = OWN_SYSTEM_DEPARTMENT) -> dict[str, str]:
    """Attach ``department_code`` as a webhook endpoint at ``webhook_url`` (the reference
    department system, ``hotline dept-sim``): a fresh API key (the demo's earlier keys of that
    name are revoked) and a fresh endpoint secret (both are shown only once, so every start of
    the demo makes new ones). ``admin`` is a logged-in :class:`HotlineClient`."""
    for key in admin.api_keys()["items"]:
        if key["name"] == OWN_SYSTEM_KEY_NAME and not key.get("revoked_at"):
            admin.revoke_api_key(key["key_id"])
    api_key = admin.issue_api_key(department_code, OWN_SYSTEM_KEY_NAME)["api_key"]
    current = [e for e in admin.endpoints(department_code)["items"]
               if e["active"] and e.get("category") is None]
    if current and current[0]["kind"] == "webhook" and current[0]["url"] == webhook_url:
        secret = admin.rotate_endpoint_secret(current[0]["id"])["secret"]
    else:
        for e in current:
            admin.deactivate_endpoint(e["id"])
        secret = admin.create_endpoint(department_code, "webhook", url=webhook_url,
                                       timeout_seconds=5)["secret"]
    return {"department_code": department_code, "secret": secret, "api_key": api_key}
